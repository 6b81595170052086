import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The VPC's address range. */
export const VPC_CIDR = '10.40.0.0/16';

/** Props of {@link Network}. */
export interface NetworkProps {
  /** Availability zones used. @default 2 */
  readonly maxAzs?: number;
  /**
   * NAT gateways giving functions and tasks internet access (jobs that call outside APIs need it).
   * With 0, the function subnets are isolated and reach AWS only through the VPC endpoints.
   * @default 1
   */
  readonly natGateways?: number;
  /** Encrypts the flow log group. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly flowLogRetention?: logs.RetentionDays;
}

/**
 * The VPC: isolated subnets for the database, private subnets for functions and Fargate tasks, the
 * VPC endpoints they use (so AWS calls never leave the VPC), and flow logs of all traffic.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Functions, Fargate tasks, the RDS Proxy and the VPC endpoints. */
  readonly functionSubnets: ec2.SubnetSelection;
  /** The Aurora cluster only. */
  readonly databaseSubnets: ec2.SubnetSelection;
  /** Every Piko function and task; the proxy admits this group only. */
  readonly functionsSecurityGroup: ec2.SecurityGroup;
  /** The interface endpoints' group: HTTPS from the VPC. */
  readonly #endpointSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const natGateways = props.natGateways ?? 1;
    const functionSubnetType =
      natGateways > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: props.maxAzs ?? 2,
      natGateways,
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        // The public subnets hold only the NAT gateways, whose Elastic IPs are explicit: nothing
        // launched there gets a public address by default (CT.EC2.PR.11).
        ...(natGateways > 0
          ? [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false }]
          : []),
        { name: 'Functions', subnetType: functionSubnetType, cidrMask: 20 },
        { name: 'Database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    this.functionSubnets = { subnetGroupName: 'Functions' };
    this.databaseSubnets = { subnetGroupName: 'Database' };

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.functionsSecurityGroup = new ec2.SecurityGroup(this, 'Functions', {
      vpc: this.vpc,
      description: 'Piko functions and Fargate tasks',
      allowAllOutbound: true,
    });

    // Gateway endpoint: ECR image layers come from S3.
    this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.functionSubnets],
    });
    const interfaces: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      // The dispatcher starts and describes executions.
      StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
      // The secret rotation function reads and writes the database secret.
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      // Fargate's awslogs driver.
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      // Fargate pulls the stage image.
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      // SDK credential providers that assume roles (web identity, profiles) call STS.
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
    };
    // HTTPS from inside the VPC only (functions, tasks, the secret rotation function).
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'Endpoints', {
      vpc: this.vpc,
      description: 'Piko VPC interface endpoints: HTTPS from the VPC',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), 'HTTPS from the VPC');
    this.#endpointSecurityGroup = endpointSecurityGroup;
    for (const [name, service] of Object.entries(interfaces)) this.addAwsEndpoint(name, service);
  }

  /**
   * An interface endpoint of `service` in the function subnets, with private DNS, HTTPS from the
   * VPC only: what a stack with Fargate stages adds for ECS (the dispatcher's `ecs:StopTask`).
   */
  addAwsEndpoint(name: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.InterfaceVpcEndpoint {
    return this.vpc.addInterfaceEndpoint(name, {
      service,
      subnets: this.functionSubnets,
      privateDnsEnabled: true,
      securityGroups: [this.#endpointSecurityGroup],
      open: false,
    });
  }
}

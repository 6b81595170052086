import { executionAsyncResource } from 'node:async_hooks';
const t=()=>{const s=performance.now(); let p=Promise.resolve(); for(let i=0;i<1e6;i++) p=p.then(()=>0); return p.then(()=>performance.now()-s)};
console.log('before', Math.round(await t()));
await import(process.argv[2]);
console.log('after '+process.argv[2], Math.round(await t()));

import torch, aiter, triton.testing as tt
def bench(fn): return tt.do_bench(fn, warmup=25, rep=100, return_mode="median")*1e3
dt=torch.bfloat16
for T in [1, 1024, 8192, 32768]:
    qkv=torch.randn(T,6144,device='cuda',dtype=dt); q=qkv[:,:4096].view(T,32,128); w=torch.randn(128,device='cuda',dtype=dt)
    out=torch.empty(T,32,128,device='cuda',dtype=dt)
    us=bench(lambda: aiter.rms_norm_cu(out,q,w,1e-6)); nbytes=2*q.numel()*2
    src=torch.empty(q.numel()*2,dtype=torch.uint8,device='cuda'); dst=torch.empty_like(src)
    cu=bench(lambda: dst.copy_(src))
    print(f"qk T={T}: {us:.1f}us {nbytes/us/1e3:.0f} GB/s copy {cu:.1f}us {nbytes/cu/1e3:.0f} GB/s pct {100*cu/us:.0f}%")
for H in [2048,4096,8192,16384]:
    T=8192; x=torch.randn(T,H,device='cuda',dtype=dt); w=torch.randn(H,device='cuda',dtype=dt); out=torch.empty_like(x)
    us=bench(lambda: aiter.rms_norm_cu(out,x,w,1e-6)); nbytes=2*x.numel()*2
    src=torch.empty(x.numel()*2,dtype=torch.uint8,device='cuda'); dst=torch.empty_like(src); cu=bench(lambda: dst.copy_(src))
    print(f"2d H={H} T={T}: {us:.1f}us {nbytes/us/1e3:.0f} GB/s pct {100*cu/us:.0f}%")

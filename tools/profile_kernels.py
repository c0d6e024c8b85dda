# Kernels to profile with ncu (see README): the strided Q-norm, a row-strided 2D
# norm and a copy of the same bytes, each launched twice after warm-up.
# ncu --launch-skip 3 --launch-count 3 --metrics ... python3 tools/profile_kernels.py
import torch, aiter
dt=torch.bfloat16; dev='cuda'
T=32768
qkv=torch.randn(T,6144,device=dev,dtype=dt); q=qkv[:,:4096].view(T,32,128); w=torch.randn(128,device=dev,dtype=dt); o=torch.empty(T,32,128,device=dev,dtype=dt)
buf=torch.randn(T,4096+256,device=dev,dtype=dt); x=buf[:,:4096]; w2=torch.randn(4096,device=dev,dtype=dt); o2=torch.empty(T,4096,device=dev,dtype=dt)
src=torch.empty(T*4096*2,dtype=torch.uint8,device=dev); dst=torch.empty_like(src)
for _ in range(2):
    aiter.rms_norm_cu(o,q,w,1e-6); aiter.rms_norm_cu(o2,x,w2,1e-6); dst.copy_(src)
torch.cuda.synchronize()

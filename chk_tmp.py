import torch
from qkan import QKANLayer
torch.manual_seed(0)
for rd in [True, False]:
    kw=dict(reps=2, ansatz="real", preact_trainable=True, dtype=torch.float64, seed=1, fast_measure=rd)
    ref = QKANLayer(2,3, **kw)
    hw = QKANLayer(2,3, solver="qiskit", **kw)
    hw.load_state_dict(ref.state_dict())
    x = torch.rand(5,2,dtype=torch.float64)*1.6-0.8
    x1=x.clone().requires_grad_(); x2=x.clone().requires_grad_()
    y1=ref(x1); y2=hw(x2)
    print((y1-y2).abs().max().item())
    p1=[p for p in ref.parameters() if p.requires_grad]; p2=[p for p in hw.parameters() if p.requires_grad]
    gr = torch.autograd.grad(y1.sum(), [x1]+p1); gh = torch.autograd.grad(y2.sum(), [x2]+p2)
    for a,b in zip(gr,gh): print(a.shape, (a-b).abs().max().item(), a.abs().max().item())
    print(ref.circuit_values(x).abs().min())

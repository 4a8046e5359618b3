"""The diffusion framework, separate from the network: noise schedules (DDPM linear / cosine),
objectives (eps, v, x0, rectified flow), time sampling and loss weighting. Depends on torch and
diffusers only."""

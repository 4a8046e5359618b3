"""Networks and their presets (:mod:`core.models.presets`: diffusers ``UNet2DModel`` sizes and a
small DiT), and the model folder every trained model is saved as (:mod:`core.models.folder`).
Depends on torch and diffusers only."""

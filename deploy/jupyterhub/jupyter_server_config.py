"""Each student's Jupyter server in the class image: a kernel left idle is shut down, so a finished notebook
stops holding its memory (notebook 04's kernel holds TensorFlow: about 0.9 GB) before JupyterHub culls the
whole server (config.yaml, cull)."""
c = get_config()  # noqa: F821 - defined by Jupyter when it loads this file
c.MappingKernelManager.cull_idle_timeout = 20 * 60  # seconds without activity
c.MappingKernelManager.cull_interval = 5 * 60
c.MappingKernelManager.cull_connected = False  # an open browser tab alone does not keep an idle kernel

"""The proxy the local hub starts (jupyterhub_config.py): pip's `configurable-http-proxy` (the Python port of
npm's), with one fix. Its websocket handler forwards a browser's binary messages to the server as text frames
(`ProxyHandler.on_message` calls `write_message(message)` without `binary=`), so jupyter_server closes the kernel
connection at the first binary message. Notebook 06's live widget sends every camera frame as a binary message:
through the unpatched proxy its pump stalls at the first frame (seen with configurable-http-proxy 0.4.0).
npm's proxy, the one Zero to JupyterHub runs, forwards them as binary and needs no fix.

    python deploy/jupyterhub/proxy.py [configurable-http-proxy's options]
"""
from configurable_http_proxy import cli, handlers


def forward_as_sent(self, message) -> None:
    """ProxyHandler.on_message, forwarding binary messages as binary (the port's only change)."""
    if self.ws_client:
        prefix = self.target["prefix"] if self.target else ""
        if prefix:
            self.proxy.update_last_activity(prefix)
        self.ws_client.write_message(message, binary=isinstance(message, bytes))


handlers.ProxyHandler.on_message = forward_as_sent

if __name__ == "__main__":
    cli.main()

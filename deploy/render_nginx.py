"""Render deploy/nginx/practice-portal.conf.j2 into an nginx site file.

    python deploy/render_nginx.py --server-name portal.example.org --replica 8501 \
        --replica 8502 --tls-certificate /etc/letsencrypt/live/portal.example.org/fullchain.pem \
        --tls-certificate-key /etc/letsencrypt/live/portal.example.org/privkey.pem \
        > /etc/nginx/sites-available/practice-portal

The upload limit comes from PORTAL_MAX_UPLOAD_MB (as the app reads it), so that nginx, Streamlit
and the app agree on one number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jinja2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def render_site(*, replicas: list[int], server_name: str = "_", listen_port: int | None = None,
                listen_address: str = "0.0.0.0", upstream_host: str = "127.0.0.1",
                max_upload_mb: int | None = None, tls_certificate: str | None = None,
                tls_certificate_key: str | None = None, activate_rate: str = "30r/m",
                activate_burst: int = 20) -> str:
    """The nginx site for these replica ports (TLS when a certificate is given)."""
    if max_upload_mb is None:
        from services.settings import get_settings

        max_upload_mb = get_settings().max_upload_mb
    tls = bool(tls_certificate and tls_certificate_key)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "nginx")),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template("practice-portal.conf.j2").render(
        replicas=replicas, server_name=server_name, upstream_host=upstream_host,
        listen_port=listen_port or (443 if tls else 80), listen_address=listen_address,
        http_port=80, tls=tls, tls_certificate=tls_certificate,
        tls_certificate_key=tls_certificate_key, max_upload_mb=max_upload_mb,
        activate_rate=activate_rate, activate_burst=activate_burst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replica", type=int, action="append", required=True,
                        metavar="PORT", help="port of one app replica (repeat for each)")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--listen-port", type=int)
    parser.add_argument("--tls-certificate")
    parser.add_argument("--tls-certificate-key")
    args = parser.parse_args(argv)
    sys.stdout.write(render_site(
        replicas=args.replica, server_name=args.server_name, listen_port=args.listen_port,
        tls_certificate=args.tls_certificate, tls_certificate_key=args.tls_certificate_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())

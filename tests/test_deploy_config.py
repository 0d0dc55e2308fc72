"""deploy/: the rendered nginx site passes `nginx -t` with and without TLS, carries the upload
limit, the websocket upgrade, sticky sessions and the security headers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.render_nginx import render_site
from services.settings import get_settings
from tests.smtp_server import self_signed

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found is None:
        if IN_CI:
            pytest.fail("nginx not found, but CI=true requires it")
        pytest.skip("nginx not found (apt-get install -y nginx)")
    return found


def nginx_accepts(nginx: str, site: str, folder: Path) -> subprocess.CompletedProcess:
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{ access_log off; include {folder}/site.conf; }}\n")
    return subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                          capture_output=True, text=True, check=False)


def test_the_tls_site_passes_nginx_t(nginx, tmp_path):
    certificate, key = self_signed(tmp_path)
    site = render_site(replicas=[8501, 8502], server_name="portal.example.org",
                       tls_certificate=str(certificate), tls_certificate_key=str(key),
                       max_upload_mb=75)
    result = nginx_accepts(nginx, site, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "return 301 https://$host$request_uri;" in site
    assert 'Strict-Transport-Security "max-age=31536000' in site
    assert "client_max_body_size 75m;" in site


def test_the_plain_site_passes_nginx_t_and_has_what_streamlit_needs(nginx, tmp_path,
                                                                    database_url):
    site = render_site(replicas=[8601, 8602, 8603], listen_address="127.0.0.1",
                       listen_port=8080)
    result = nginx_accepts(nginx, site, tmp_path)
    assert result.returncode == 0, result.stderr
    assert site.count("server 127.0.0.1:86") == 3 and "ip_hash;" in site
    assert "location /_stcore/stream" in site and "$connection_upgrade" in site
    assert f"client_max_body_size {get_settings().max_upload_mb}m;" in site
    assert "limit_req zone=portal_activate" in site
    assert "frame-ancestors 'self'" in site and "Referrer-Policy" in site
    assert "add_header Strict-Transport-Security" not in site  # HSTS only over TLS

"""Optional login before anything is shown (README, "Running for a team on one server").

- ``SITING_REQUIRE_LOGIN=1``: Streamlit's OIDC login (``st.login()``, ``st.user.is_logged_in``),
  configured in ``.streamlit/secrets.toml`` (``[auth]``).
- ``SITING_PASSWORD`` set: a shared password, compared in constant time
  (:func:`hmac.compare_digest`); success is remembered in this session's state only.
- neither: no gate (the app binds to 127.0.0.1 by default).
"""

from __future__ import annotations

import hmac
import logging
import os

import streamlit as st

__all__ = ["gate", "logout_button", "password_ok"]

logger = logging.getLogger(__name__)

_OK = "auth_ok"


def password_ok(entered: str, expected: str) -> bool:
    """Whether ``entered`` equals ``expected`` (constant-time, UTF-8)."""
    return hmac.compare_digest(entered.encode("utf-8"), expected.encode("utf-8"))


def _require_oidc() -> bool:
    return os.environ.get("SITING_REQUIRE_LOGIN", "").strip().lower() in ("1", "true", "yes")


def gate() -> bool:
    """Show the login form and return False until the visitor is let in (then True)."""
    if _require_oidc():
        return _oidc_gate()
    expected = os.environ.get("SITING_PASSWORD", "")
    if not expected or st.session_state.get(_OK):
        return True
    st.title("党群服务站点规划 · 登录 Sign in")
    with st.form("login"):
        entered = st.text_input("密码 Password", type="password", key="login_password")
        submitted = st.form_submit_button("登录 Sign in")
    if submitted:
        if password_ok(entered or "", expected):
            st.session_state[_OK] = True
            st.session_state.pop("login_password", None)
            logger.info("password login accepted")
            st.rerun()
        logger.info("password login refused")
        st.error("密码不正确 Wrong password")
    return False


def _oidc_gate() -> bool:
    try:
        if st.user.is_logged_in:
            return True
    except Exception as err:  # no [auth] section in secrets.toml
        st.error(
            "登录未配置:请在 .streamlit/secrets.toml 中添加 [auth] 部分。 "
            f"Login is not configured ([auth] in .streamlit/secrets.toml): {err}"
        )
        return False
    st.title("党群服务站点规划 · 登录 Sign in")
    if st.button("使用单位账号登录 Sign in with your organisation account"):
        st.login()
    return False


def logout_button() -> None:
    """A sign-out button in the sidebar when a login is in force."""
    if _require_oidc():
        if st.sidebar.button("退出登录 Sign out", key="logout"):
            st.logout()
    elif os.environ.get("SITING_PASSWORD") and st.session_state.get(_OK):
        if st.sidebar.button("退出登录 Sign out", key="logout"):
            st.session_state.pop(_OK, None)
            st.rerun()

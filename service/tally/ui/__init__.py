"""Server-rendered pages for people: ``/usage/{tenant_id}`` (Jinja2 templates shipped in ``templates/``)."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from tally.ui.pages import usage_pages
from tally.ui.signin import sign_in_link

TEMPLATES = Path(__file__).parent / "templates"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


__all__ = ["sign_in_link", "template_config", "usage_pages"]

"""mkdocs hook: one page per method package, generated from its README (``docs/methods/<pkg>.md``).

Relative links in a README are made to work on the site: files it points to (result figures,
other READMEs) are published beside the page or mapped to their pages; a link to a folder or to
a file that the site does not publish becomes plain text.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_PUBLISH = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".json", ".csv"}


def _page_name(folder: Path) -> str:
    return "template" if folder.name == "_template" else folder.name


def _pages() -> dict[Path, str]:
    """README path -> site page (``index.md`` for the top README)."""
    pages = {ROOT / "README.md": "index.md", ROOT / "shared-core" / "README.md": "methods/core.md"}
    for readme in sorted(ROOT.glob("packages/*/README.md")):
        pages[readme] = f"methods/{_page_name(readme.parent)}.md"
    return pages


def _rewrite(text: str, readme: Path, page: str, pages: dict[Path, str], extra: dict[str, Path]) -> str:
    page_dir = Path(page).parent

    def link(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path_part, _, anchor = target.partition("#")
        dest = (readme.parent / path_part).resolve()
        if dest in pages:
            rel = Path(pages[dest]).relative_to(page_dir) if pages[dest].startswith(str(page_dir)) else None
            href = str(rel) if rel else "../" * len(page_dir.parts) + pages[dest]
            return f"{bang}[{label}]({href}{'#' + anchor if anchor else ''})"
        if dest.is_file() and dest.suffix.lower() in _PUBLISH and ROOT in dest.parents:
            uri = f"files/{dest.relative_to(ROOT).as_posix()}"
            extra[uri] = dest
            return f"{bang}[{label}]({'../' * len(page_dir.parts)}{uri})"
        return label if not bang else f"*{label}*"

    return _LINK.sub(link, text)


def on_config(config):
    """The nav's "Methods" section: the core, then every package (the template last)."""
    pages = [(p.parent.name, page) for p, page in _pages().items() if page.startswith("methods/")]
    pages.sort(key=lambda kv: (kv[0] == "_template", kv[0] != "shared-core", kv[0]))
    names = {"shared-core": "latent-ebm-core", "_template": "the package template"}
    entries = [{names.get(folder, f"latent-ebm-{folder}"): page} for folder, page in pages]
    for item in config["nav"]:
        if isinstance(item, dict) and "Methods" in item:
            item["Methods"] = entries
    return config


def on_files(files, config):
    pages = _pages()
    extra: dict[str, Path] = {}
    for readme, page in pages.items():
        if page == "index.md":
            continue
        content = _rewrite(readme.read_text(encoding="utf-8"), readme, page, pages, extra)
        files.append(File.generated(config, page, content=content))
    index = files.get_file_from_path("index.md")
    if index is not None:
        files.remove(index)
    files.append(File.generated(config, "index.md",
                                content=_rewrite((ROOT / "README.md").read_text(encoding="utf-8"),
                                                 ROOT / "README.md", "index.md", pages, extra)))
    for uri, path in extra.items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files

"""Where a shop's pages are: what the operator hands on (CLI) and the root page shows."""

from __future__ import annotations

# (name, path): the customers' join page and its poster, the staff's stamping page, the
# owner's dashboard.
PAGES = (
    ("join", "/join/{slug}"),
    ("poster", "/join/{slug}/poster"),
    ("staff", "/staff/{slug}"),
    ("dashboard", "/dashboard/{slug}"),
)


def shop_links(base_url: str, slug: str) -> dict[str, str]:
    """The full URL of each of the shop's pages, by name (see PAGES)."""
    return {name: base_url + path.format(slug=slug) for name, path in PAGES}

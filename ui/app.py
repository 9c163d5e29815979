"""The discolab dashboard: `discolab ui` (localhost only by default).

Pages live in ui/pages/, one module per view; each method's issue adds its page to
``METHOD_PAGES`` in ui/pages/__init__.py.
"""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"


def main() -> None:
    from discolab.ui.pages import METHOD_PAGES

    st.set_page_config(page_title="discolab", layout="wide")
    core = [
        st.Page(str(PAGES / "discover.py"), title="Discover", default=True),
        st.Page(str(PAGES / "distributions.py"), title="Distributions"),
        st.Page(str(PAGES / "agent.py"), title="Agent"),
    ]
    methods = [st.Page(str(PAGES / f"{name}.py"), title=title) for name, title in METHOD_PAGES]
    st.navigation({"Workbench": core, **({"Methods": methods} if methods else {})}).run()


main()

"""swx ops dashboard (Streamlit): reads the results database only, through `swx.store.queries`.

    make dashboard        (= streamlit run dashboards/app.py, from the repository root)

The database is the one the settings name (SWX_DATABASE_URL; SQLite under SWX_DATA_DIR by default; a
read-only role in operations). Queries are cached for a minute (dashboards/common.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `dashboards.common` from any working directory

HERE = Path(__file__).resolve().parent
PAGES = [("now", "Now"), ("stations", "Stations"), ("global_map", "Global map"), ("skill", "Skill"),
         ("storms", "Storms"), ("runs", "Runs & models")]

st.set_page_config(page_title="swx ops", layout="wide")
if st.sidebar.button("Refresh data", help="Read the database again now (results are otherwise cached for a minute)"):
    st.cache_data.clear()
st.navigation([st.Page(str(HERE / "views" / f"{name}.py"), title=title) for name, title in PAGES]).run()

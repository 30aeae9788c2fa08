"""The run viewer: `agentverse-view RUN_DIR...` serves run directories as web pages (runs, problem
tables, each problem's rounds and calls, two runs side by side), or exports them as one HTML file.

Records are read from the records files through an index built once per file and cached beside
it (`index`); `problem` turns one record into what a problem page shows; `server` serves both.
"""

"""Reports for reviewers (issue 17): one self-contained HTML page per run beside its JUnit file,
a check x run matrix across runs, the CI job summary, JUnit kept within what CI servers read,
and the retention of the runs' kept logs.

Nothing here is imported at the harness's import time: the plugin and the CLI import these
modules when a run ends, and the heavy libraries (junitparser, graphviz, Jinja2) only inside
the functions that use them.
"""

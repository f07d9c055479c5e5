# [START conftest]
# conftest.py: a throwaway Airflow home for the tests, set before anything imports Airflow
import os
import tempfile

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# [END conftest]

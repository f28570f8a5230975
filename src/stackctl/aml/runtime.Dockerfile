# The AML environment image of demand_forecast; stackctl/aml/environment.py fills the placeholders
# from runtime.yaml (string.Template placeholders). Part of the environment's version hash.
FROM ${base_image}
# NVIDIA_*: what the NVIDIA container runtime of a GPU node mounts into a non-CUDA base image (the
# driver's compute and utility libraries, every GPU); a CPU node has no such runtime and ignores them.
# https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    DEMAND_FORECAST_WHEEL=/opt/demand-forecast/${wheel}
COPY requirements.txt constraints.txt ${wheel} /opt/demand-forecast/
# The publish step writes to Azure SQL through pyodbc, which needs Microsoft's ODBC Driver 18 and
# unixODBC; both images are Debian/Ubuntu, so Microsoft's repository for the image's own release:
# https://learn.microsoft.com/sql/connect/odbc/linux-mac/installing-the-microsoft-odbc-driver-for-sql-server
RUN . /etc/os-release \
 && python -c "import urllib.request, sys; urllib.request.urlretrieve(sys.argv[1], '/tmp/pmp.deb')" \
      "https://packages.microsoft.com/config/$${ID}/$${VERSION_ID}/packages-microsoft-prod.deb" \
 && dpkg -i /tmp/pmp.deb && rm /tmp/pmp.deb \
 && apt-get update \
 && ACCEPT_EULA=Y apt-get install -y --no-install-recommends msodbcsql18 unixodbc \
 && rm -rf /var/lib/apt/lists/*
# torch first, from its image's index (torch's CPU or CUDA 12.8 index; the CUDA build pins its
# nvidia-*-cu12 wheels exactly itself), then every package, both with the constraints file
# (transitive dependencies pinned too), then the model wheel alone; `pip check` fails the build on any
# broken requirement, not the first job.
RUN python -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" \
 && python -m pip install --index-url ${torch_index} --extra-index-url https://pypi.org/simple \
      -c /opt/demand-forecast/constraints.txt "${torch}" \
 && python -m pip install -r /opt/demand-forecast/requirements.txt -c /opt/demand-forecast/constraints.txt \
 && python -m pip install --no-deps /opt/demand-forecast/${wheel} \
 && python -m pip check

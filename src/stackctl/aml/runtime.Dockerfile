# The AML environment image of demand_forecast; stackctl/aml/environment.py fills the placeholders
# from runtime.yaml (string.Template placeholders). Part of the environment's version hash.
FROM ${base_image}
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
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
# torch first, from its own index (the CPU or CUDA build; the CUDA build pins its nvidia-* libraries
# exactly itself), then every package with the constraints file (transitive dependencies pinned too),
# then the model wheel alone; `pip check` fails the build on any broken requirement, not the first job.
# A base image that ships its own torch (the CUDA one) also ships torchvision/torchaudio pinned to
# that torch, which `pip check` would then reject: they are not ours, so they go first.
RUN python -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" \
 && python -m pip uninstall -y torchvision torchaudio \
 && python -m pip install --index-url ${torch_index} --extra-index-url https://pypi.org/simple \
      -c /opt/demand-forecast/constraints.txt "${torch}" \
 && python -m pip install -r /opt/demand-forecast/requirements.txt -c /opt/demand-forecast/constraints.txt \
 && python -m pip install --no-deps /opt/demand-forecast/${wheel} \
 && python -m pip check

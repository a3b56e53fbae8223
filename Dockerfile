# The medassist image: one image for every role (worker, month-end, ledger, topic creation);
# docker-compose.yml picks the role with the command.
FROM python:3.11-slim AS build
# a C compiler: setup.py compiles the policy engine with mypyc (the wheel carries the .so files)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py ./
COPY services ./services
# wheels for the package and every dependency, so the runtime stage needs no compiler
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/medassist --create-home medassist
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels medassist && rm -rf /wheels
# the JSON Schemas live beside the package in the repo; tell the installed package where
COPY schemas /opt/medassist/schemas
ENV MEDASSIST_SCHEMAS=/opt/medassist/schemas \
    MEDASSIST_DATADIR=/var/lib/medassist \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER medassist
WORKDIR /var/lib/medassist
# owned by medassist, so a named volume mounted here (month-end exports) is writable
RUN mkdir -p /var/lib/medassist/exports
EXPOSE 9464 9465 9466
ENTRYPOINT ["medassist"]
CMD ["worker"]

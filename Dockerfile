# One image for every Python service of Mesa; docker-compose.yml picks the process by `command`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the packages are built from: .run/ (local databases, Kafka data) and
# infra/kafka/lib/ (Maven jars) stay out of the image.
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services

# pyproject.toml ships each service's schema.sql as package data, read beside its module.
# A named volume mounted on /var/lib/mesa/attachments starts out with that directory's
# owner, so the non-root user can write attachments into it.
RUN pip install . --no-cache-dir \
 && python -m compileall -q shared services \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /app mesa \
 && install -d -o mesa -g mesa /var/lib/mesa/attachments

USER mesa
EXPOSE 8000 8001 8002
CMD ["mesa", "--help"]

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt

COPY . .
# Static files are collected (hashed, compressed) at build time with throwaway settings.
RUN XQUANT_ENV=production SECRET_KEY=build-only-not-used-at-runtime-0123456789abcdefghijklmnopqrstuvwxyz \
    python manage.py collectstatic --noinput \
 && useradd --system --home /app xquant && mkdir -p /app/var && chown -R xquant /app/var
USER xquant

EXPOSE 8000
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "xquant.asgi:application"]

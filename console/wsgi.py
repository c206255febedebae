"""The WSGI entry point for production servers: ``gunicorn console.wsgi:app``.

Static files are served by the app itself under gunicorn, which hands them to the kernel with
``sendfile``; browsers may keep them for an hour and revalidate them with their ETag after that.
"""

from console import create_app

STATIC_MAX_AGE_SECONDS = 3600

app = create_app({"SEND_FILE_MAX_AGE_DEFAULT": STATIC_MAX_AGE_SECONDS})

"""The template upload form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize

from console.openehr.opt import MAX_OPT_BYTES


class TemplateUploadForm(FlaskForm):
    """One ADL 1.4 operational template (``.opt``) file."""

    opt_file = FileField(
        "Operational template (.opt)",
        validators=[
            FileRequired("Choose an .opt file to upload."),
            FileAllowed(["opt", "xml"], "The file must be an .opt (or .xml) operational template."),
            FileSize(max_size=MAX_OPT_BYTES, message="The file must be 5 MB or smaller."),
        ],
    )

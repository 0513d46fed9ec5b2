from django import forms


class ImportUploadForm(forms.Form):
    csv_file = forms.FileField(
        label="CSV file",
        help_text="Exported from a CRM or a spreadsheet: one row per recipient (or per fact), a header row first.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def clean_csv_file(self):
        from django.conf import settings

        upload = self.cleaned_data["csv_file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(f"The file is larger than {settings.IMPORT_MAX_UPLOAD_MB} MB.")
        return upload

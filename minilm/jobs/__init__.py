"""Big jobs: readers of text files and records, resumable streamed embedding to a file, and Ray."""

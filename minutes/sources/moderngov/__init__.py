"""Import council papers from a ModernGov site (most UK councils' committee system).

`pages` parses the web service's XML and the meeting and item pages' HTML (pure);
`client` fetches politely, with a cache of raw responses; `importer` writes each agenda
item as a Markdown document, and its linked PDFs with a metadata.json, into a folder
that `minutes index` reads.
"""

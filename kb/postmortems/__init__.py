"""Published postmortems as documents: which KB provider each is about, and which incidents.

Data flow: scrapers (postmortem_doc, postmortem_list) give PostmortemRecords → the store stage
keeps each entry (kb.postmortems.ingest → kb.store.postmortems) → the `postmortems` stage of
`kb update` merges entries into documents by URL (kb.postmortems.documents), maps each to a
provider (kb.postmortems.providers) and links it to incidents (kb.postmortems.link).
"""

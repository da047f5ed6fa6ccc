"""A mobile operator, as MCQS sees one: an OAuth2 client that checks devices, uploads what
its network saw and downloads lists, over MCQS's operator API only."""

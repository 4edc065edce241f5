"""The token classifier: trained from the gateway's export of reviewed label reads, used by the service
to rank code candidates when `LINESIGHT_OCR_TOKEN_MODEL` names a model file."""

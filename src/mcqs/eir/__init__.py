"""The registry's network side: each IMEI's status for operators' EIRs (3GPP TS 29.511),
the operators' clients, their network activity, the detection runs and the lists."""

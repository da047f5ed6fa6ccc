"""Staff of the registration points (post offices, operators' shops) and of the registry's
back office: their points, accounts, sign-in (password and a one-time code) and sessions."""

"""Sign-in through the e-government portal: an OpenID Connect relying party (Authlib)."""

""" "Mənim cihazlarım" (My devices): a signed-in citizen's applications, devices and refunds."""

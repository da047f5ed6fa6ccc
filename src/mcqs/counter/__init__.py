"""Registration at a point's counter (post office, operator's shop): an agent registers a
device for the citizen in front of them through the same services as the online flow,
takes the fee in cash or on the card terminal, prints the receipt and closes the day; the
point's supervisor sees its agents and days and may cancel a paid registration."""

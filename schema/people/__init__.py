"""People: the Person and OwnershipAssignment types, the people list and people mutations."""

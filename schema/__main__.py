"""Print the SDL: `python -m schema > schema.graphql`."""
from schema import schema

print(schema.as_str())

"""``python -m dormant.trail``: the trail commands on their own, until the main CLI mounts them."""

from .cli import trail

if __name__ == "__main__":
    trail.main(prog_name="dormant trail")

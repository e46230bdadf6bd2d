"""The pure core of pplbot: no network, no disk, no clock."""

"""The shared venue contract: every registered venue's feed against its simulator.

A venue joins by having a folder (``dragonfly/venues/<venue>/``) whose ``VenueSpec`` names a
simulator encoder; the cases come from the registry (:mod:`.cases`), never from a list here.
"""

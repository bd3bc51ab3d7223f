"""Limits on the lists in a creator's settings (boundaries, topics to avoid...): the console's
settings form and the card import refuse the same lists (a card cannot store what the form
would refuse). Its own module, outside the console package, so that the card import does not
import the console."""

MAX_LIST_ITEMS = 100
MAX_ITEM_CHARS = 200

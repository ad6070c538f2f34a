# scrapyd-deploy builds its egg by running setup.py; everything is declared in pyproject.toml
# (including the `scrapy` settings entry point Scrapyd needs), so this shim only calls setup().
from setuptools import setup

setup()

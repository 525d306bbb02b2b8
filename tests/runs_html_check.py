#!/usr/bin/env python3
"""Checks a `runs report` page with a real HTML parser (the standard
library's html.parser): every tag closed in the order opened (void
elements and self-closed SVG tags aside), ids unique, no external
resource (src=, http(s) links, <link>), and the runs and charts expected.
Usage: runs_html_check.py PAGE RUNS CHARTS [NAME...]
RUNS: the table's rows; CHARTS: the <svg> charts; NAMES: run names the
table must hold. Prints one line per problem and exits 1 if there is one."""
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.ids = [], [], set()
        self.rows = self.svgs = 0
        self.table_names, self.in_tbody, self.cell, self.text = [], False, 0, ""
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def check_attrs(self, tag, attrs):
        for name, value in attrs:
            if name == "id":
                if value in self.ids:
                    self.problems.append(f"duplicate id '{value}'")
                self.ids.add(value)
            if name == "src" or (name in ("href", "xlink:href") and value and not value.startswith("#")):
                self.problems.append(f"<{tag} {name}='{value}'>: a reference outside the page")
        if tag == "link":
            self.problems.append("a <link> element: the page must hold everything")

    def handle_starttag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "tbody":
            self.in_tbody = True
        if tag == "tr" and self.in_tbody:
            self.rows += 1
            self.cell = 0
        if tag == "td" and self.in_tbody:
            self.cell += 1
            self.text = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.check_attrs(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> at line {self.getpos()[0]} closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "tbody":
            self.in_tbody = False
        if tag == "td" and self.in_tbody and self.cell == 1:
            self.table_names.append(self.text)

    def handle_data(self, data):
        if self.in_tbody:
            self.text += data


def main():
    path, rows, charts, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    page.close()
    problems = page.problems
    if not page.doctype:
        problems.append("no <!DOCTYPE html>")
    if page.stack:
        problems.append(f"unclosed at the end: {page.stack}")
    if page.rows != rows:
        problems.append(f"the table has {page.rows} rows, not {rows}")
    if page.svgs != charts:
        problems.append(f"{page.svgs} <svg> charts, not {charts}")
    for name in names:
        if name not in page.table_names:
            problems.append(f"run {name} is not in the table (it has {page.table_names})")
    for p in problems[:20]:
        print(f"{path}: {p}")
    sys.exit(1 if problems else 0)


main()

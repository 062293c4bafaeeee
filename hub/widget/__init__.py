"""The website chat widget's hub side: sites, visitors, the feed a widget shows, and
whether anyone is there to answer."""

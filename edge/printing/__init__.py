"""Kitchen tickets on the branch's ESC/POS network printers.

- `printers`: the printers as the store keeps them (one outbox topic each).
- `jobs`: which station prints which lines; tickets queued in the order's transaction.
- `render`: a ticket as ESC/POS bytes (python-escpos).
- `transport`: raw TCP with one deadline and a delivery confirmation.
- `worker`: one loop per printer drains its topic, in order, with backoff.
- `status`: what staff see of each printer.
"""

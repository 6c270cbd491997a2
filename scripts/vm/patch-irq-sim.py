"""irq_to_desc() is not exported to modules; gpio-sim's irq_sim dispatches through the domain instead."""
import sys

path = sys.argv[1]
text = open(path).read()
old = "\t\tirqnum = irq_find_mapping(work_ctx->domain, offset);\n\t\thandle_simple_irq(irq_to_desc(irqnum));"
if old not in text:
    sys.exit("irq_sim.c changed upstream; re-check scripts/vm/patch-irq-sim.py")
open(path, "w").write(text.replace(old, "\t\tirqnum = generic_handle_domain_irq(work_ctx->domain, offset);"))

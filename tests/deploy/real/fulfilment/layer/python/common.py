def total_weight(lines):
    return sum(line["weight"] * line["quantity"] for line in lines)

"""Secure sum and secure product of the parties' private inputs (MPyC).

Each party runs this with its own private integer; every party learns the
sum and the product of all inputs and nothing else:

    python3 sum_product.py -M 3 -I 0 -P 127.0.0.1:11365 -P ... --input 5

Under `knit mpyc` the -M/-I/-P options are appended by knit. Without
--input a party's input is 3 + 2 * (its index), so a plain three-party run
gives sum=15 product=105. Every party prints one line:

    party I: input=X sum=S product=P

The inputs are secret-shared as 64-bit secure integers; the sum is local
arithmetic on the shares, the product costs one round of resharing per
multiplication. --check SUM,PRODUCT makes a party exit 1 (after printing
its line) if the outputs differ, for tests.
"""
import argparse
import sys

from mpyc.runtime import mpc  # parses and removes MPyC's own options


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--input', type=int, default=None,
                        help='this party\'s private input (default 3 + 2*index)')
    parser.add_argument('--check', default=None, metavar='SUM,PRODUCT',
                        help='exit 1 unless the outputs are these')
    args = parser.parse_args()
    value = args.input if args.input is not None else 3 + 2 * mpc.pid
    if not -2**31 < value < 2**31:
        parser.error('--input must fit in 32 bits')
    total, product = mpc.run(compute(value))
    print(f'party {mpc.pid}: input={value} sum={total} product={product}', flush=True)
    if args.check is not None:
        want = [int(v) for v in args.check.split(',')]
        if want != [total, product]:
            print(f'party {mpc.pid}: expected sum={want[0]} product={want[1]}',
                  file=sys.stderr)
            sys.exit(1)


async def compute(value):
    await mpc.start()
    # 64 bits hold the product of three 32-bit inputs only while it is
    # small; the field is much larger (the product is exact up to ~2^64).
    secint = mpc.SecInt(64 * len(mpc.parties))
    inputs = mpc.input(secint(value))  # one secure integer per party
    total, product = await mpc.output([mpc.sum(inputs), mpc.prod(inputs)])
    await mpc.shutdown()
    return total, product


if __name__ == '__main__':
    main()

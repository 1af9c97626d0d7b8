"""R sequential secure multiplications over MPyC: a latency benchmark.

    python3 mul_rounds.py --rounds 200 [-M 3 -I i -P ...]

Each party inputs a private field element a_i (default 2 + index); with
a = sum of the a_i, the parties compute x_0 = a, x_{k+1} = x_k * a + 1 in a
prime field, each multiplication depending on the one before, so the R
multiplications cost R sequential rounds of resharing. Every party prints

    party I: rounds=R result=X expected=Y ok=True compute_s=T

where result is the opened x_R, expected is the same computed in the clear
from the inputs (a test-only check: the inputs are opened after the
result), and compute_s the time from all parties connected to the result
opened (MPyC's connection set-up and shutdown excluded). Exit status 1 when
the result is wrong.
"""
import argparse
import sys
import time

from mpyc.runtime import mpc  # parses and removes MPyC's own options

MODULUS = 2**61 - 1  # a Mersenne prime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=200,
                        help='sequential secure multiplications (default 200)')
    parser.add_argument('--input', type=int, default=None,
                        help='this party\'s private input (default 2 + index)')
    args = parser.parse_args()
    if not 0 <= args.rounds <= 1_000_000:
        parser.error('--rounds must be in 0..1000000')
    value = args.input if args.input is not None else 2 + mpc.pid
    result, inputs, seconds = mpc.run(compute(value, args.rounds))
    a = sum(inputs) % MODULUS
    expected = a
    for _ in range(args.rounds):
        expected = (expected * a + 1) % MODULUS
    ok = result == expected
    print(f'party {mpc.pid}: rounds={args.rounds} result={result} '
          f'expected={expected} ok={ok} compute_s={seconds:.3f}', flush=True)
    sys.exit(0 if ok else 1)


async def compute(value, rounds):
    await mpc.start()
    secfld = mpc.SecFld(MODULUS)
    shares = mpc.input(secfld(value))
    started = time.monotonic()
    a = mpc.sum(shares)
    x = a
    for _ in range(rounds):
        x = x * a + 1
    result = await mpc.output(x)
    seconds = time.monotonic() - started
    inputs = await mpc.output(shares)
    await mpc.shutdown()
    return int(result), [int(v) for v in inputs], seconds


if __name__ == '__main__':
    main()

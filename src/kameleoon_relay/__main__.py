from kameleoon_relay.cli import main

main()

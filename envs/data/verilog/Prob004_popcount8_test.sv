module tb;
  reg [7:0] in;
  wire [3:0] count_ref, count_top;
  integer seed = 404, i, samples = 0, mismatches = 0;

  RefModule ref_i (.in(in), .count(count_ref));
  TopModule top_i (.in(in), .count(count_top));

  task check;
    begin
      #1;
      samples = samples + 1;
      if (count_ref !== count_top) mismatches = mismatches + 1;
    end
  endtask

  initial begin
    in = 8'h00; check;
    in = 8'hff; check;
    in = 8'h80; check;
    in = 8'h7f; check;
    in = 8'hfe; check;
    for (i = 0; i < 200; i = i + 1) begin
      in = $random(seed);
      if (i % 4 == 0) in = in | $random(seed);
      check;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
